{{ masked_view('fct_provider_notes') }}
