with

extract_rows as (
    select * from {{ ref('stg_departments__extract_rows') }}
),

-- each accepted extract row states the department as of its updated_at
department_observations as (
    select
        department_id,
        updated_at,
        source_file,
        loaded_at,
        line_number,
        hospital_id,
        hospital_name,
        city,
        state,
        department_name,
        bed_capacity,
        staff_count
    from extract_rows
    where reject_rule is null
),

{{ business_time_versions(
    'department_observations',
    'department_id',
    ['hospital_id', 'hospital_name', 'city', 'state', 'department_name', 'bed_capacity', 'staff_count'],
    observed_at_column='updated_at',
    tie_breaker_columns=['source_file', 'loaded_at', 'line_number'],
) }}

select * from versions
