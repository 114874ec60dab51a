{{ masked_view('dim_provider') }}
