{#- Text value of a scalar typed attribute: S (or N, as text), trimmed; null when the attribute
    is absent, NULL, of another type or blank. -#}
{% macro dynamo_text(attributes, path) -%}
    {%- set attribute = dynamo_attribute(attributes, path) -%}
    nullif(btrim(coalesce({{ attribute }} ->> 'S', {{ attribute }} ->> 'N')), '')
{%- endmacro %}
