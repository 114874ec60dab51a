{{ masked_view('fct_treatments') }}
