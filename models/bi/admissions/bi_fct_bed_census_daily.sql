{{ masked_view('fct_bed_census_daily') }}
