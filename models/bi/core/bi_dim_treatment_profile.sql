{{ masked_view('dim_treatment_profile') }}
