{{ masked_view('dq_rejects_by_rule') }}
