{#- The role dbt acts as (profile `role:`, env WAREHOUSE_DBT_ROLE): `set role` again as the first
    pre-hook of each node (inside its transaction) and in the run hooks. dbt-postgres sets it once per connection, inside a transaction it
    has not committed yet, so a rollback (a failed node, or the one dbt sends after opening the
    hooks' connection) would silently put the login role back. Without a role only the second
    statement renders: the session's work_mem (var transform_work_mem). -#}
{% macro set_dbt_role() -%}
    {%- if execute and target.get('role') -%}
        set role {{ adapter.quote(target.role) }};
    {%- endif %}
    {#- sorts and hashes of a million rows stay in memory (the default 4MB spills them to disk) #}
    set work_mem = '{{ var("transform_work_mem") }}'
{%- endmacro %}
