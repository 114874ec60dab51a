{{ masked_view('dim_patient') }}
