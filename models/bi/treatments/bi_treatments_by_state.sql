{{ masked_view('treatments_by_state') }}
