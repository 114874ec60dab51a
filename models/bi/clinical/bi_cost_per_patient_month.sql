{{ masked_view('cost_per_patient_month') }}
