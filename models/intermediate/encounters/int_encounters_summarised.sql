with

adt_events as (
    select * from {{ ref('int_adt_events') }}
),

-- One pass over the accepted events of each encounter. "First" and "latest" follow
-- (event_at, event_id), so ties at one instant are broken the same way everywhere.
events_summarised_per_encounter as (
    select
        encounter_id,
        (array_agg(patient_id order by event_at, event_id))[1] as patient_id,
        (array_agg(hospital_id order by event_at, event_id))[1] as hospital_id,
        min(event_at) as first_event_at,
        min(event_at) filter (where event_type = 'ARRIVE') as arrived_at,
        min(event_at) filter (where event_type = 'ADMIT') as admitted_at,
        max(event_at) filter (where event_type = 'DISCHARGE') as discharged_at,
        (
            array_agg(department_id order by event_at, event_id)
            filter (where event_type = 'ADMIT')
        )[1] as admission_department_id,
        (
            array_agg(department_id order by event_at desc, event_id desc)
            filter (where event_type = 'DISCHARGE')
        )[1] as discharge_department_id,
        count(*) filter (where event_type = 'TRANSFER') as transfer_count,
        (array_agg(age_at_event order by event_at, event_id))[1] as age_at_arrival,
        (
            array_agg(gender order by event_at, event_id)
            filter (where gender != 'unknown')
        )[1] as known_gender
    from adt_events
    group by encounter_id
),

encounters_measured as (
    select
        encounter_id,
        patient_id,
        hospital_id,
        arrived_at,
        admitted_at,
        discharged_at,
        admission_department_id,
        discharge_department_id,
        age_at_arrival,
        cast(transfer_count as integer) as transfer_count,
        coalesce(arrived_at, first_event_at) as encounter_start_at,
        extract(epoch from admitted_at - arrived_at) / 60 as wait_minutes,
        extract(epoch from discharged_at - admitted_at) / 3600 as length_of_stay_hours,
        coalesce(known_gender, 'unknown') as gender,
        admitted_at is not null as is_admitted,
        admitted_at is not null and discharged_at is null as is_in_house
    from events_summarised_per_encounter
)

select * from encounters_measured
