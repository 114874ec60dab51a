{{ masked_view('dim_date') }}
