{{ masked_view('medication_adherence') }}
