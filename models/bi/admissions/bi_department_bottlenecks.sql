{{ masked_view('department_bottlenecks') }}
