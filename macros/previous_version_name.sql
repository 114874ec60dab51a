{#- All-or-nothing refresh: the name under which the holding schema keeps the previous version of
    a relation. A bi view has the name of its gold table, so it is kept as bi__<name>. -#}
{% macro previous_version_name(relation_schema, relation_name) -%}
    {%- if relation_schema == generate_schema_name('bi', none) -%}
        {{ relation_schema ~ '__' ~ relation_name }}
    {%- else -%}
        {{ relation_name }}
    {%- endif -%}
{%- endmacro %}
