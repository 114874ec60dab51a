{{ masked_view('dim_disease') }}
