{#- Post-hook of the gold models: when the model's YAML declares a column hospital_id, row-level
    security (forced, so it binds the owner too, and with it every bi view the owner owns): a
    member of the hospitals group sees the rows of its own hospital only (vars warehouse_roles,
    hospital_roles); every other role, superusers included, sees every row. -#}
{% macro hospital_row_security() -%}
    {%- if execute and 'hospital_id' in model.columns -%}
        {%- set hospitals = var('warehouse_roles')['hospitals'] -%}
        {%- set pairs = [] -%}
        {%- for hospital_id, role in var('hospital_roles').items() -%}
            {%- do pairs.append("('" ~ hospital_id ~ "', '" ~ role ~ "')") -%}
        {%- endfor -%}
        alter table {{ this }} enable row level security;
        alter table {{ this }} force row level security;
        drop policy if exists hospital_rows on {{ this }};
        create policy hospital_rows on {{ this }} for all using (
            (
                select pg_roles.rolsuper or not pg_has_role(current_user, '{{ hospitals }}', 'member')
                from pg_roles
                where pg_roles.rolname = current_user
            )
            or (hospital_id, (select cast(current_user as text))) in (values {{ pairs | join(', ') }})
        )
    {%- endif -%}
{%- endmacro %}
