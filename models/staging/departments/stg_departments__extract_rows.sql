with

extracts_source as (
    select * from {{ source('departments', 'extracts') }}
),

fields_trimmed as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        record is null as is_malformed,
        {{ json_text('record', 'hospital_id') }} as hospital_id,
        {{ json_text('record', 'hospital_name') }} as hospital_name,
        {{ json_text('record', 'city') }} as city,
        {{ json_text('record', 'state') }} as state,
        {{ json_text('record', 'department_id') }} as department_id,
        {{ json_text('record', 'department_name') }} as department_name,
        {{ json_text('record', 'bed_capacity') }} as bed_capacity_text,
        {{ json_text('record', 'staff_count') }} as staff_count_text,
        {{ json_text('record', 'updated_at') }} as updated_at_text
    from extracts_source
),

values_parsed as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        is_malformed,
        hospital_id,
        hospital_name,
        city,
        state,
        department_id,
        department_name,
        {{ safe_integer('bed_capacity_text') }} as bed_capacity,
        {{ safe_integer('staff_count_text') }} as staff_count,
        {{ safe_timestamptz('updated_at_text') }} as updated_at
    from fields_trimmed
),

rows_checked as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        hospital_id,
        hospital_name,
        city,
        state,
        department_id,
        department_name,
        bed_capacity,
        staff_count,
        updated_at,
        case
            when is_malformed then 'malformed_row'
            when department_id is null then 'missing_department_id'
            when hospital_id is null then 'missing_hospital_id'
            when bed_capacity is null or bed_capacity < 0 then 'invalid_bed_capacity'
            when staff_count is null or staff_count < 0 then 'invalid_staff_count'
            when updated_at is null then 'invalid_updated_at'
        end as reject_rule
    from values_parsed
)

select * from rows_checked
