{{ masked_view('patient_chronic_conditions') }}
