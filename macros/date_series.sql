{#- One row per date from a bounds row's first to its last date, every `step` (an interval
    literal such as '1 day' or '1 month'): the body of a date or month spine CTE. -#}
{% macro date_series(bounds, first_column, last_column, step, date_column) -%}
    select cast(series.series_start as date) as {{ date_column }}
    from {{ bounds }}
    cross join lateral generate_series(
        cast({{ bounds }}.{{ first_column }} as timestamp),
        cast({{ bounds }}.{{ last_column }} as timestamp),
        interval '{{ step }}'
    ) as series (series_start)
{%- endmacro %}
