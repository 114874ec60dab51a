{#- Candidate number text of a money attribute: an N value trimmed, an S value trimmed and then
    stripped of '$' and thousands separators (','); null for any other type. Parse it with
    safe_numeric() and to_money(). -#}
{% macro dynamo_cost_text(attributes, path) -%}
    {%- set attribute = dynamo_attribute(attributes, path) -%}
    coalesce(
        btrim({{ attribute }} ->> 'N'),
        replace(replace(btrim({{ attribute }} ->> 'S'), '$', ''), ',', '')
    )
{%- endmacro %}
