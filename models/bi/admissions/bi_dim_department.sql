{{ masked_view('dim_department') }}
