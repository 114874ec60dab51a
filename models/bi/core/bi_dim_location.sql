{{ masked_view('dim_location') }}
