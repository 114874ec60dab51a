{{ masked_view('admission_kpis_by_age_band') }}
