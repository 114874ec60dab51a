{{ masked_view('fct_visits') }}
