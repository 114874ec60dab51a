{{ masked_view('readmission_rates') }}
