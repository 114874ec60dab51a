{{ masked_view('provider_prescribing_patterns') }}
