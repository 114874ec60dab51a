{{ masked_view('dq_loads') }}
