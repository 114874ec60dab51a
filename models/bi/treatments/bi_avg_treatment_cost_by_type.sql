{{ masked_view('avg_treatment_cost_by_type') }}
