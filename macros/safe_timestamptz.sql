{#- Parses an ISO-8601 timestamp that carries a date, a time and a UTC offset (Z, +hh, +hhmm or
    +hh:mm) without ever raising an error: null when the text does not have that shape (checked
    by a regular expression, hours 00-23, minutes and seconds 00-59) or PostgreSQL does not
    accept it as a timestamptz (e.g. 2024-02-30). A decimal comma in the seconds is read as a
    point. -#}
{% macro safe_timestamptz(text_expression) -%}
    case
        when {{ text_expression }}
            ~ '^\d{4}-\d{2}-\d{2}[Tt]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d([.,]\d+)?)?([Zz]|[+-]\d{2}(:?[0-5]\d)?)$'
            and pg_input_is_valid(replace({{ text_expression }}, ',', '.'), 'timestamptz')
            then cast(replace({{ text_expression }}, ',', '.') as timestamptz)
    end
{%- endmacro %}
