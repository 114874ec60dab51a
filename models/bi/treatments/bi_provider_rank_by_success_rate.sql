{{ masked_view('provider_rank_by_success_rate') }}
