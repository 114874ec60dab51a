{#- Parses an ISO-8601 calendar date (yyyy-mm-dd) without ever raising an error: null when the
    text does not have that shape or is not a valid date. -#}
{% macro safe_date(text_expression) -%}
    case
        when {{ text_expression }} ~ '^\d{4}-\d{2}-\d{2}$'
            and pg_input_is_valid({{ text_expression }}, 'date')
            then cast({{ text_expression }} as date)
    end
{%- endmacro %}
