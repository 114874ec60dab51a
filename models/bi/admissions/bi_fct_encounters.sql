{{ masked_view('fct_encounters') }}
