{{ masked_view('readmissions') }}
