with

events_checked as (
    select * from {{ ref('int_adt_events_checked') }}
),

accepted_events as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        event_id,
        event_type,
        event_ts_raw,
        event_at,
        encounter_id,
        patient_id,
        hospital_id,
        department_id,
        bed_id,
        gender,
        date_of_birth,
        reported_age_raw,
        age_at_event,
        is_age_invalid,
        insurance_type,
        arrival_mode,
        extra_attributes
    from events_checked
    where reject_rule is null
)

select * from accepted_events
