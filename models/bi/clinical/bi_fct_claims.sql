{{ masked_view('fct_claims') }}
