{{ masked_view('dim_specialty') }}
