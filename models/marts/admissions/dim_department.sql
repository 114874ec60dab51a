with

departments_snapshot as (
    select * from {{ ref('departments') }}
),

current_department_versions as (
    select
        {{ version_key('department_id', 'valid_from') }} as department_key,
        department_id,
        hospital_id,
        department_name,
        bed_capacity,
        staff_count,
        valid_from,
        valid_to,
        valid_to = cast('infinity' as timestamptz) as is_current
    from departments_snapshot
    where dbt_valid_to is null
)

select * from current_department_versions
