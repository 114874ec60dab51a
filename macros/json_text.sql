{#- Text of a scalar in a plain JSON object at a path of keys, trimmed: a string's value, a
    number's or boolean's JSON text; null when a key is absent, the value is JSON null, an object
    or an array, or the text is blank. -#}
{% macro json_text(json_expression, path) -%}
    {%- set keys = [path] if path is string else path -%}
    {%- set value -%}
        {{ json_expression }}{% for key in keys %} -> '{{ key }}'{% endfor %}
    {%- endset -%}
    nullif(btrim(case when jsonb_typeof({{ value }}) in ('string', 'number', 'boolean') then {{ value }} #>> '{}' end), '')
{%- endmacro %}
