{{ masked_view('provider_rank_by_total_treatments') }}
