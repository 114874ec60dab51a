{#- The select of a bi view: the columns of a gold or restricted model, in its YAML order,
    masked as var bi_masking says (drop, pseudonymise, birth_year, zip3). -#}
{% macro masked_view(model_name) -%}
    {%- set upstream = ref(model_name) -%}
    {%- set keys = ref('stg_vault__pseudonym_keys') -%}
    {%- set masking = var('bi_masking') -%}
    {%- set selected = [] -%}
    {%- if execute -%}
        {%- set node = graph.nodes.values()
            | selectattr('resource_type', 'equalto', 'model')
            | selectattr('package_name', 'equalto', project_name)
            | selectattr('name', 'equalto', model_name)
            | first -%}
        {%- for column in node.columns.values() -%}
            {%- set source_column = 'source_rows.' ~ adapter.quote(column.name) -%}
            {%- if column.name in masking['drop'] -%}
            {%- elif column.name in masking['pseudonymise'] -%}
                {%- do selected.append(keyed_hash(source_column) ~ ' as ' ~ adapter.quote(column.name)) -%}
            {%- elif column.name in masking['birth_year'] -%}
                {%- do selected.append('cast(extract(year from ' ~ source_column ~ ') as integer) as birth_year') -%}
            {%- elif column.name in masking['zip3'] -%}
                {%- do selected.append('cast(left(' ~ source_column ~ ', 3) as text) as zip3') -%}
            {%- else -%}
                {%- do selected.append(source_column) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
with

source_rows as (
    select * from {{ upstream }}
),

pseudonym_keys as (
    select * from {{ keys }}
),

masked as (
    select
        {{ selected | join(',\n        ') }}
    from source_rows
    cross join pseudonym_keys
)

select * from masked
{%- endmacro %}
