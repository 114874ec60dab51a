{{ masked_view('cost_per_provider') }}
