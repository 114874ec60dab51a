{{ masked_view('fct_medication_orders') }}
