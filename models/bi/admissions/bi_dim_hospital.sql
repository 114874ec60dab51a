{{ masked_view('dim_hospital') }}
