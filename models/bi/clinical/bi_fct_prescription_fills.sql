{{ masked_view('fct_prescription_fills') }}
