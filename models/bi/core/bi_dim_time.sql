{{ masked_view('dim_time') }}
