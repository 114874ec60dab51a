{#- Latest non-null value of a column over a running window (attribute-level survivorship) in
    one pass: the max() of [sort key..., value] text arrays over the window's frame, whose last
    element is the value of the greatest sort key among the rows with a value, cast back to its
    type. The sort key elements must order exactly like the window's ORDER BY (fixed-width text
    for timestamps and ranks), and the frame must end at the current row. An optional filter
    (a boolean SQL expression) restricts the rows that may give the value, e.g. to one source. -#}
{% macro last_known_value(value_column, sort_key_expressions, window_name, data_type='text', filter=none) -%}
    cast(
        (
            max(array[{{ sort_key_expressions | join(', ') }}, cast({{ value_column }} as text)])
                filter (where {{ value_column }} is not null{% if filter %} and ({{ filter }}){% endif %})
                over {{ window_name }}
        )[{{ sort_key_expressions | length + 1 }}] as {{ data_type }}
    )
{%- endmacro %}
