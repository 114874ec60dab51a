{{ masked_view('monthly_success_rate_trend') }}
