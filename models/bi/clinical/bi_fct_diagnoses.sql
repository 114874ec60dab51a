{{ masked_view('fct_diagnoses') }}
