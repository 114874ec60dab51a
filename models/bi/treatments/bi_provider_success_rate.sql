{{ masked_view('provider_success_rate') }}
