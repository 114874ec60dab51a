{{ masked_view('treatments_per_city') }}
