{#- Relation names: dbt's default, except the masked views of models/bi/, named bi_<model> in
    the project, which take the name of their model (bi.fct_claims over gold.fct_claims). -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node.fqn[1] == 'bi' and node.name.startswith('bi_') -%}
        {{ node.name[3:] }}
    {%- elif node.version -%}
        {{ return(node.name ~ "_v" ~ (node.version | replace(".", "_"))) }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}
